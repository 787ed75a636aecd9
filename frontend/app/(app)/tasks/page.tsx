import type { Metadata } from "next";
import { TasksView } from "@/components/tasks-view";
import { requireSession } from "@/lib/session";

export const metadata: Metadata = { title: "Tasks" };

export default async function TasksPage() {
  const { user } = await requireSession();
  return (
    <>
      <h1>Tasks</h1>
      <TasksView userId={user.id} />
    </>
  );
}
