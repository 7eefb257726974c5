"""The run store on disk: run folders and their files, the run lock, atomic writes."""
