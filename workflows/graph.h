#pragma once
// The job graph of a workflow: topological layers, and Graphviz / Mermaid renderings.

#include <string>
#include <vector>

#include "workflows/workflow.h"

namespace wfrun::workflows {

/// Jobs in topological layers: layer 0 needs nothing, layer k needs only jobs of earlier
/// layers. Within a layer, file order. Jobs on a cycle (impossible after parse_workflow) come
/// last, as one more layer.
std::vector<std::vector<std::string>> layers(const Workflow& wf);

/// A Graphviz digraph: one box per job labelled "NAME\nACTION", an edge from each needed job to
/// the job that needs it, labelled with the outputs it reads from there.
std::string to_dot(const Workflow& wf);

/// The same graph as a Mermaid flowchart (left to right).
std::string to_mermaid(const Workflow& wf);

}  // namespace wfrun::workflows
