--SAFETRIM
--[[ a long comment
     spanning lines
]] local x = 1
--[==[
  level two ]] ]=] still comment
]==]
local y = 2 --[[ inline ]] + 3
local z = x--[[c]]+y
local w = x --[=[ ]] ]=] * y
local q = {x--[[one]]
  --[[two]],y}
print(x, y, z, w, q[1], q[2])
