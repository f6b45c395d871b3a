"""The report layer: what ``snakemake --report report.html`` shows beyond the stages' plots.

- :mod:`~deeppp.report.results` -- the one adapter that reads the stages' result files;
- :mod:`~deeppp.report.overview` -- the overview page (headline table, conclusion, samples);
- :mod:`~deeppp.report.paired` -- paired bootstrap comparisons on the same test events;
- :mod:`~deeppp.report.comparison` -- deeppp beside published figures;
- :mod:`~deeppp.report.tables` -- summary tables and the configuration as HTML;
- :mod:`~deeppp.report.layout` -- report categories, order and entry names (rule files);
- :mod:`~deeppp.report.captions` -- captions whose numbers come from the results (rule files);
- :mod:`~deeppp.report.html` -- page skeleton, number formats, math in quoted text.

``python -m deeppp.report --help`` lists the command-line entry points the workflow uses.
"""
