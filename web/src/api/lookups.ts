import { useQuery } from "@tanstack/react-query";
import { api, type Page } from "./client";
import type { Instrument, StorageLocation } from "./types";

// Pick-lists and name look-ups: the first server page at the largest size the API
// allows, which is more instruments or storage locations than a lab has.
const LOOKUP_LIMIT = 500;

export function useInstruments() {
  return useQuery({
    queryKey: ["/api/instruments", "lookup"],
    queryFn: ({ signal }) => api.get<Page<Instrument>>("/api/instruments", { limit: LOOKUP_LIMIT }, signal),
    staleTime: 30_000,
  });
}

export function useStorageLocations(enabled = true) {
  return useQuery({
    queryKey: ["/api/storage-locations", "lookup"],
    queryFn: ({ signal }) =>
      api.get<Page<StorageLocation>>("/api/storage-locations", { limit: LOOKUP_LIMIT }, signal),
    staleTime: 30_000,
    enabled,
  });
}

export function nameOf(items: { id: string; name: string }[] | undefined, id: string | null | undefined): string {
  if (!id) return "—";
  return items?.find((item) => item.id === id)?.name ?? id.slice(0, 8);
}
