"""The running hub: assembly, daemon, HTTP server, scheduler, exports, leases, metrics."""
