"""The JupyterLab sidebar's server side (docs/sidebar-protocol.md): a Jupyter Server extension holding one
DeckState per server, shown over an authenticated websocket. Nothing here loads on `import modeldeck`.
"""
