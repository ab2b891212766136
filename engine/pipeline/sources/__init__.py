"""Market-data sources behind one interface (base.Source): recorded files, the WebSocket feed,
on-chain oracle rounds."""
