"""Facebook Messenger: the Graph Send API over aiohttp, for the Philippines, Laos and Myanmar."""
