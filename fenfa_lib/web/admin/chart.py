"""The 30-day downloads chart as inline SVG drawn by the server: no script, no style attribute (the CSP
allows neither), its colours from the stylesheet's classes."""
from markupsafe import Markup, escape

WIDTH, HEIGHT = 600, 200
LEFT, BOTTOM, TOP = 40, 28, 12


def nice_ceiling(value):
    """The smallest of 1, 2, 5, 10, 20, 50… at least `value` (at least 1): the top of the scale."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def downloads_chart(days, title):
    """An SVG bar chart of [{date, downloads}], one bar a day, with the scale and first and last dates."""
    top = nice_ceiling(max((day["downloads"] for day in days), default=0))
    plot_width, plot_height = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    slot = plot_width / max(len(days), 1)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for fraction in (0, 0.5, 1) if top % 2 == 0 else (0, 1):  # whole numbers only on the scale
        y = TOP + plot_height * (1 - fraction)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{top * fraction:g}</text>')
    for index, day in enumerate(days):
        height = plot_height * day["downloads"] / top
        x = LEFT + index * slot + slot * 0.15
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_height - height:.1f}" width="{slot * 0.7:.1f}" '
                     f'height="{height:.1f}"><title>{escape(day["date"])}: {day["downloads"]}</title></rect>')
    if days:
        parts.append(f'<text class="axis" x="{LEFT}" y="{HEIGHT - 6}">{escape(days[0]["date"])}</text>')
        parts.append(f'<text class="axis" x="{WIDTH}" y="{HEIGHT - 6}" text-anchor="end">'
                     f'{escape(days[-1]["date"])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
