--SAFETRIM
local a = 7 // 2   -- floor division
local b = 1 << 4 >> 1 ~ 3 & 5 | 6
local s = "skip \z
           blanks -- not a comment"
local h = "\x41\u{48}"
for i = 1, 3 do
  if i == 2 then goto continue end   -- goto
  print(i)
  ::continue::
end
return a, b, s, h
