"""The classroom app (Mesa SolaraViz) and the figures it shares with the lesson notebooks.

``simulation.app.app`` is the page (it needs the ``viz`` extra); ``levers`` and
``charts`` need only the core dependencies; ``commands`` adds ``innofin app``.
"""
