"""gristmill.mixing: mixture sampling, proxy runs, regression and mixture search."""
