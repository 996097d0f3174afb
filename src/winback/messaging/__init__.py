"""Messages: what the engine hands over (`Outbound`), what comes back (`Delivery`), and the transports."""
