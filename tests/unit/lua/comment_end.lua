--SAFETRIM
local x = 1 --
local y = 2 ---
local z = 3 --[
local w = 4 --[=
local v = 5 --[==x
local u = 6 -- [[ not long ]]
local s = 7 --]]
return x, y, z, w, v, u, s -- no newline at the end