--SAFETRIM
local M = {}   -- module

-- a function with comments everywhere
function M.add(a,--[[first]] b --[[second]])
  -- the body
  return a + b -- result
end

function M:method(...)   --[==[ varargs ]==]
  local n = select('#', ...)
  for i = 1, n do
    local v = select(i, ...)
    if v == nil then   -- skip nils
      break
    end
  end
  return self, n
end

local mt = setmetatable({}, { __index = function(_, k) return k end })
while false do end
repeat local r = 1 until r == 1
return M, mt
