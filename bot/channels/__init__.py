"""Channel adapters: each turns platform payloads into neutral messages and sends replies."""
