--SAFETRIM
-- short strings that look like comments must survive
local a = "not -- a comment"   -- but this is one
local b = 'single -- quoted'	-- tab before this comment
local c = "escaped \" quote -- still string" -- comment
local d = 'it\'s -- fine' .. "\\" -- backslash at the end
local e = "tab\there\tand -- dashes"
local f = "line\
  continued -- inside a string"
local g = "\65\066\0067 -- decimal escapes"
print(a, b, c, d, e, f, g)
