"""What a plugin user measures: FLOPs with the real decisions, throughput, the mIoU-vs-GMACs
table, gate pictures, calibration and gate quality (the CLIs: ``tools/analysis_tools/``).
Benchmarks and studies live in ``benchmarks/``, outside the package."""
