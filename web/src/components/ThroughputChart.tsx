import { Box, Text, VisuallyHidden } from "@mantine/core";
import { formatBytes } from "../format";

export interface Point {
  start: string;
  files: number;
  bytes: number;
}

interface Props {
  points: Point[];
  measure: "files" | "bytes";
  bucket: "hour" | "day";
}

const HEIGHT = 160;

function label(point: Point, bucket: "hour" | "day"): string {
  const date = new Date(point.start);
  return bucket === "hour"
    ? date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" })
    : date.toLocaleDateString(undefined, { dateStyle: "medium" });
}

/** Bars per hour or day; the same numbers are in a table for screen readers. */
export function ThroughputChart({ points, measure, bucket }: Props) {
  const values = points.map((point) => point[measure]);
  const max = Math.max(1, ...values);
  const width = 100 / Math.max(points.length, 1);
  const show = (value: number) => (measure === "bytes" ? formatBytes(value) : `${value} files`);
  const total = values.reduce((sum, value) => sum + value, 0);
  return (
    <Box>
      <svg
        viewBox={`0 0 100 ${HEIGHT}`}
        preserveAspectRatio="none"
        width="100%"
        height={HEIGHT}
        aria-hidden
        style={{ display: "block", background: "var(--mantine-color-gray-0)", borderRadius: 4 }}
      >
        {points.map((point, index) => {
          const height = (point[measure] / max) * (HEIGHT - 8);
          return (
            <rect
              key={point.start}
              x={index * width + width * 0.1}
              y={HEIGHT - height}
              width={width * 0.8}
              height={height}
              fill="var(--mantine-color-blue-6)"
            >
              <title>{`${label(point, bucket)}: ${show(point[measure])}`}</title>
            </rect>
          );
        })}
      </svg>
      <Text size="xs" c="dimmed" mt={4}>
        {points.length ? `${label(points[0], bucket)} – ${label(points[points.length - 1], bucket)}` : ""} · total{" "}
        {show(total)} · highest {show(Math.max(0, ...values))} per {bucket}
      </Text>
      <VisuallyHidden>
        <table>
          <caption>Verified {measure} per {bucket}</caption>
          <tbody>
            {points.map((point) => (
              <tr key={point.start}>
                <th scope="row">{label(point, bucket)}</th>
                <td>{show(point[measure])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </VisuallyHidden>
    </Box>
  );
}
