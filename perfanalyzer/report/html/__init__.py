"""Self-contained HTML reports: inline SVG figures (matplotlib's SVG backend), a Jinja2 page, no
JavaScript and no external reference, readable from a file and printable.

Imported only when --html is given (pandas, matplotlib and Jinja2 stay off a profile run's path).
"""

FLAG = "--html"
