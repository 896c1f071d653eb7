"""centriole-sr: widefield to confocal-quality restoration of centriole images."""

__version__ = "0.1.0"
