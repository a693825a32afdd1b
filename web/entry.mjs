// The bundle's surface: everything @niivue/niivue exports (the viewer imports Niivue, SLICE_TYPE, …).
export * from "@niivue/niivue";
