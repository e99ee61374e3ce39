"""Financial engines: inventory-pledge credit lines and parametric cargo insurance."""
