import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Page } from "../api/client";

export const PAGE_SIZE = 25;

type Filters = Record<string, string | number | boolean | null | undefined>;

/** One server-side page of a v0 list; the page resets when the filters change. */
export function usePaged<T>(path: string, filters: Filters = {}, pageSize = PAGE_SIZE, refetchInterval?: number) {
  const [page, setPage] = useState(1);
  const filterKey = JSON.stringify(filters);
  const [lastFilterKey, setLastFilterKey] = useState(filterKey);
  if (filterKey !== lastFilterKey) {
    setLastFilterKey(filterKey);
    setPage(1);
  }
  const skip = (page - 1) * pageSize;
  const query = useQuery({
    queryKey: [path, filters, skip, pageSize],
    queryFn: ({ signal }) =>
      api.get<Page<T>>(path, { ...filters, skip, limit: pageSize }, signal),
    placeholderData: keepPreviousData,
    refetchInterval,
  });
  const total = query.data?.total ?? 0;
  return { query, page, setPage, pageSize, pages: Math.max(1, Math.ceil(total / pageSize)) };
}
