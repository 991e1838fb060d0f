
publishc*{"a":1} trailing