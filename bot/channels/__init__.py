"""Channel adapters. Only this package may import a Telegram framework."""
