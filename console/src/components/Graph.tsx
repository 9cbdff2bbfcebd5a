/** A definition's steps laid out by dagre, each coloured by its task's status. */
import dagre from "@dagrejs/dagre";
import { useMemo } from "preact/hooks";
import { tone } from "../format";
import type { Steps } from "../steps";

const NODE_WIDTH = 170;
const NODE_HEIGHT = 46;

interface Placed {
  nodes: { id: string; label: string; detail: string; x: number; y: number }[];
  edges: { from: string; to: string; label: string; points: { x: number; y: number }[] }[];
  width: number;
  height: number;
}

function place(steps: Steps): Placed {
  const graph = new dagre.graphlib.Graph({ multigraph: true });
  graph.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 50, marginx: 10, marginy: 10 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const step of steps.steps) graph.setNode(step.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  steps.transitions.forEach((transition, index) =>
    graph.setEdge(transition.from, transition.to, { label: transition.label }, String(index)),
  );
  dagre.layout(graph);
  const label = graph.graph();
  return {
    nodes: steps.steps.map((step) => {
      const node = graph.node(step.id);
      return { id: step.id, label: step.label ?? step.id, detail: step.detail, x: node.x, y: node.y };
    }),
    edges: steps.transitions.map((transition, index) => ({
      ...transition,
      points: graph.edge(transition.from, transition.to, String(index)).points,
    })),
    width: label.width ?? 0,
    height: label.height ?? 0,
  };
}

function shorten(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

export function StepGraph({ steps, statuses }: { steps: Steps; statuses: Map<string, string> }) {
  const placed = useMemo(() => place(steps), [steps]);
  const summary = steps.steps.map((step) => `${step.label ?? step.id}: ${statuses.get(step.id) ?? "not started"}`).join("; ");
  return (
    <div class="graph">
      <svg
        width={placed.width}
        height={placed.height}
        viewBox={`0 0 ${placed.width} ${placed.height}`}
        role="img"
        aria-label={`Graph of the steps. ${summary}`}
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
          </marker>
        </defs>
        {placed.edges.map((edge, index) => (
          <g key={`e${index}`} class="edge">
            <polyline points={edge.points.map((p) => `${p.x},${p.y}`).join(" ")} marker-end="url(#arrow)" />
            {edge.label && edge.points.length > 1 && (
              <text x={edge.points[Math.floor(edge.points.length / 2)].x + 4} y={edge.points[Math.floor(edge.points.length / 2)].y}>
                {shorten(edge.label, 28)}
              </text>
            )}
          </g>
        ))}
        {placed.nodes.map((node) => {
          const status = statuses.get(node.id);
          return (
            <g
              key={node.id}
              class={`node tone-${status ? tone(status) : "none"}`}
              data-step={node.id}
              data-status={status ?? ""}
              transform={`translate(${node.x - NODE_WIDTH / 2},${node.y - NODE_HEIGHT / 2})`}
            >
              <title>{`${node.label}: ${status ?? "not started"}${node.detail ? ` (${node.detail})` : ""}`}</title>
              <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx="6" />
              <text x={NODE_WIDTH / 2} y="19" class="name">
                {shorten(node.label, 22)}
              </text>
              <text x={NODE_WIDTH / 2} y="36" class="detail">
                {shorten(status ? `${status} · ${node.detail}` : node.detail, 28)}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
