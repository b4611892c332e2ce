--SAFETRIM
   local s = [[
    leading spaces stay
	tabs too   
  -- not a comment
]]
local t = [==[
  ]] still inside ]=] and here
    --[[ nor this ]]
]==]
local u = [=[one line]=]   -- trailing comment
local v = x and [[
  a]] or [[b
  ]]
return s .. t .. u .. (v or "")
