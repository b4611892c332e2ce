--SAFETRIM
local t = {}
t[ [[key]] ] = 1
t[ [=[k2]=] ] = 2
local u = { [1]=t, [ "a" ]=2 }
local s = t[ [[key]]]
local a = {[[x]]}
local b = {--[[c]] [[y]]}
local c = t [--[[gap]]"a"--[[gap]]]
print(s, a[1], b[1], c, u[1])
