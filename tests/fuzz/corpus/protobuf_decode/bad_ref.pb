
publishc*12	{"r":1} x