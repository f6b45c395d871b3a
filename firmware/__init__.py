"""deeppp stage: FPGA firmware of the trained taggers.

Library API: :func:`firmware.build.build_firmware` (one model at its scanned and at the
reference precision: hls4ml project and emulation, da4ml Verilog, Verilator/Yosys/Vivado tool
flow, bit-exactness checks that stop the build, ``report.json`` as
:class:`deeppp.handoffs.FirmwareReport`) and :func:`firmware.summary.write_summary` (table,
findings and plots across models). CLI: ``python -m firmware --help``.

Modules: ``build`` (orchestration), ``precision`` + ``paired_bootstrap`` (the scan),
``fixed_point`` + ``network`` (the bit-accurate reference), ``hls`` and ``rtl`` (the two
implementations), ``toolflow`` (the table of RTL tools), ``synthesis`` (Yosys, nextpnr),
``vendor_reports`` (Vitis/Vivado report readers), ``checks``, ``assemble`` (headline figures),
``devices`` (part totals), ``jets`` (test sets), ``summary``, ``findings``, ``plots``.
"""
