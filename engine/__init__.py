"""zkrisk risk engine: the domain, the pipeline and everything that runs it."""
