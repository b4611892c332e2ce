--SAFETRIM

		local   function   f  (  a ,  b  )	 
	   return   a   +   b   -- sum
		end   

  
local t = {   one = 1 ,
       two = 2 ,   -- trailing
	}
  print ( f ( t.one , t.two ) )   
