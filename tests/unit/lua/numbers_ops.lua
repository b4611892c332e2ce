--SAFETRIM
local a = 1e-5
local b = 2 - -3   -- a minus and a unary minus
local c = 2- -3
local d = 0x1F + 3.5e+2 - .5
local e = a - - b
local f = "x" .. 1 .. "y"
local g = 1 .. 2
local h = a<=b and b>=a and a~=b and a==a
local i = #"--" + #'--'
local j = -(-a)
local k = {1,2,3}
local l = k [ 1 ]
local m = - -1
print(a, b, c, d, e, f, g, h, i, j, l, m)
