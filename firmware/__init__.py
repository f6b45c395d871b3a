"""deeppp stage: FPGA firmware of the trained taggers.

Library API: :func:`firmware.build.build_firmware` (one model: hls4ml project and emulation,
da4ml Verilog, Verilator/Yosys checks, ``report.json``) and :func:`firmware.summary.write_summary`
(table and plots across models). CLI: ``python -m firmware --help``.
"""
