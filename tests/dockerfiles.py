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

# Lines 1-6 of a stage whose configuration builds up (a build arg, env, a copied file ``f``
# that the context must hold, a workdir): what is in effect at each step. The modules
# add their own lines from 7 on.
CONFIG_HEAD = """\
FROM busybox
ARG GREETING=hello
ENV A=1
COPY f /f
ENV B=2
WORKDIR /work
"""
