
	heartbeat