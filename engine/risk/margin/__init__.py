"""Portfolio margin, SPAN's shape: public risk arrays, the requirement, the scenario grid."""
