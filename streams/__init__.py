"""Stream processors (faust): live shipment state, milestones, breaches, ETA."""
