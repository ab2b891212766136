"""zkrisk prover: a generic circom + snarkjs Groth16 toolkit. Knows nothing about risk."""
