"""Reports: plain functions from (store, filters, period) to rows, read from projections."""
