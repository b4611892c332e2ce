--SAFETRIM
local a = 1   -- comment before CRLF
local b = "x -- y"  
--[[ multi
line ]] local c = 2
return a, b, c
