
	subscribenews"1-0