"""The queue every channel shares: claims under leases, the events, retries, pacing, pauses and the
schedule of when each office's letters go."""
