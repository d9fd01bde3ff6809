"""Pure SLO maths and decisions: standard library only, plain values in, plain values out."""
