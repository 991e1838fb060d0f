
publishnews*{"a":[1,2.5,"x"]}2{"k":1}