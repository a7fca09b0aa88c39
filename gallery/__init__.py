"""The premade avatar library: imported from Pexels and Generated Photos, browsed instantly."""
