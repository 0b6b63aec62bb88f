#!/usr/bin/env bash
# Mutation testing of minirnn's cells with mutmut 3.x (issue 14), in a private copy of the repository so
# the shared working tree and its setup.cfg are never touched. Not run in CI: expect ~1,000+ mutants and an
# hour or more on 2 cores.
#
#   benchmarks/mutation/run_mutmut.sh [WORKDIR] [SECONDS] [MAX_CHILDREN]
#       WORKDIR       the copy (default /tmp/minirnn-mutation; reused: mutmut resumes where it stopped)
#       SECONDS       time budget of `mutmut run` (default 3600); what it reached is kept
#       MAX_CHILDREN  parallel mutants (default 1: the machine is shared)
#
# Then: python benchmarks/mutation/summarize.py WORKDIR   (scores and every survivor's diff)
set -euo pipefail
command -v mutmut > /dev/null || { echo "mutmut not found: activate the environment (pip install mutmut)" >&2; exit 2; }
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
WORK="${1:-/tmp/minirnn-mutation}"
BUDGET="${2:-3600}"
CHILDREN="${3:-1}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
[ "$WORK" != "$REPO" ] || { echo "WORKDIR must not be the repository itself" >&2; exit 2; }
if [ ! -f "$WORK/.copied" ]; then
    # the committed tree (HEAD), not the working tree: other people's uncommitted edits stay out
    (cd "$REPO" && git archive HEAD) | (cd "$WORK" && tar xf -)
    cat "$HERE/mutmut.cfg" >> "$WORK/setup.cfg"
    # mutmut attributes a call to a mutated function by the function's __module__; the tests load the example
    # cells from their files as "minirnn_example_cells" + ".<stem>" (examples/ is not a package), which mutmut
    # would not recognise as examples/cells/<stem>.py: in this copy only, they load as "examples.cells.<stem>"
    (cd "$WORK" && grep -rl "minirnn_example_cells\." tests examples benchmarks \
        | xargs sed -i 's/minirnn_example_cells\./examples.cells./g')
    touch "$WORK/.copied"
fi
cd "$WORK"
# the editable install of minirnn must not shadow the mutated copy: the tests run inside mutants/, whose
# minirnn/ is first on sys.path (PYTHONSAFEPATH unset, the current directory first)
timeout --signal=INT "$BUDGET" nice -n 15 mutmut run --max-children "$CHILDREN" || true
mutmut results --all true > "$WORK/results.txt" 2>&1 || mutmut results > "$WORK/results.txt" 2>&1 || true
echo "results in $WORK/results.txt; summarize with: python $HERE/summarize.py $WORK"
