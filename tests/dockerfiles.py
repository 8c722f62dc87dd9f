"""Dockerfiles several test modules debug."""

# Two stages, the second copying from the first: program order, stepping, reloads.
TWO_STAGES = """\
FROM busybox AS base
RUN echo one > /one

FROM busybox
RUN echo two > /two
COPY --from=base /one /one
RUN cat /one /two
"""
