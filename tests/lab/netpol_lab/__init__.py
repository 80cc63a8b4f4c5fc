"""The lab around the kubenet.netpol engine: checks, truth tables and explanations."""
