"""Delivery: the queue of deliveries, the channels that carry letters, and the workers."""
