"""zkrisk benchmarks: `make bench` runs them all and writes results.json and the README table."""
